"""Design from the request: read what the user named, build the structure around it."""
