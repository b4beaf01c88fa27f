"""A1111's `modules.textual_inversion.image_embedding`: embeddings are read and used here; training is not part of
this backend."""
from modules._facade import expose

expose(__name__, extra=[
       ('embedding_to_b64', 'sdwebui.services.legacy.stubs'),
       ('embedding_from_b64', 'sdwebui.services.legacy.stubs'),
       ('extract_image_data_embed', 'sdwebui.services.legacy.stubs')])
