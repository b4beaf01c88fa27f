"""A1111's `modules.sub_quadratic_attention`: attention runs through PyTorch's
scaled_dot_product_attention here."""
from modules._facade import expose

expose(__name__, extra=[('efficient_dot_product_attention', 'sdwebui.services.legacy.stubs')])
