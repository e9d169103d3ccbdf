"""Reading weights files that nobody vouches for: no code runs while they load.

Below every package that reads a ``.pth`` (the networks' pretrained encoders as well as the
weights loaders), so that none of them has to import upward to read a file safely.
"""
