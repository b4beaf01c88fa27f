"""A1111's `modules.textual_inversion.ui`: embeddings are read and used here; training is not part of
this backend."""
from modules._facade import expose

expose(__name__, extra=[
       ('create_embedding', 'sdwebui.services.legacy.stubs'),
       ('train_embedding', 'sdwebui.services.legacy.stubs')])
