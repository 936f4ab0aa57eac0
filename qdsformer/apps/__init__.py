"""Applications: commands and loops that put the library's blocks together."""
