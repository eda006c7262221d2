from pysops.cli import console_main

console_main()
