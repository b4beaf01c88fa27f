"""A1111's option keys, one module per settings category: each has `options()` (the keys with their
defaults, labels, sections and widgets) and `INERT` (the keys it keeps that change nothing here,
with the reason). `sdwebui.services.options.registry` gathers them."""
