"""A1111's `modules.hypernetworks` package (see `modules.hypernetworks.hypernetwork`)."""
