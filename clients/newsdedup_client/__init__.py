"""The newsdedup Python client and the `newsdedup` command-line tool."""
