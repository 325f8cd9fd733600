"""What tests/ and bench/ share, so neither imports the other: a real server and a real browser."""
