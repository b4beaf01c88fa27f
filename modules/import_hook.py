"""A1111's `modules.import_hook`: A1111 hides xformers from imports unless --xformers is given; this
backend never imports xformers, so there is nothing to hide."""
