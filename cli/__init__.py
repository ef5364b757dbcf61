"""The `churniq` command: the top of the house. It may import every part; nothing imports it."""
