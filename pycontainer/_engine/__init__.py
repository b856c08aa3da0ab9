"""Private engine of the reader and writer: extraction, publishing."""
