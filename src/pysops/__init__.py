"""pysops: encrypted, git-friendly secrets files in the SOPS format (compatible with sops 3.11).

The library surface is ``pysops.api``; the command line is ``pysops.cli``.
"""

__version__ = "0.1.0"
