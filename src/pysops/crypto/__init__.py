"""Cryptographic building blocks: the ENC[...] value codec, the MAC, Shamir sharing, the IV stash."""
