"""A1111's `modules.textual_inversion.textual_inversion`: `Embedding`, `EmbeddingDatabase`
(`sdwebui.engine.models.textual_inversion`); creating and training embeddings is not part of this backend."""
from modules._facade import expose

expose(__name__, 'sdwebui.engine.models.textual_inversion', extra=[
       ('create_embedding', 'sdwebui.services.legacy.stubs'),
       ('train_embedding', 'sdwebui.services.legacy.stubs'),
       ('create_embedding_from_data', 'sdwebui.services.legacy.stubs')])
