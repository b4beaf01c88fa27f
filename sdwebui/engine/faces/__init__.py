"""Face detection and face restoration (GFPGAN, CodeFormer) for Extras and restore_faces."""
