"""Loading weights safely: our checkpoints, and the official pix2pix and DnCNN releases."""
