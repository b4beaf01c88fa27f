"""A1111's `modules.hashes`: `sdwebui.engine.models.hashes`."""
from modules._facade import expose

expose(__name__, 'sdwebui.engine.models.hashes', extra=[
    (name, 'sdwebui.services.legacy.processing_names') for name in (
        'sha256_from_cache', 'sha256', 'calculate_sha256', 'addnet_hash_safetensors')])
