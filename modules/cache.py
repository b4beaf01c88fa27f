"""A1111's `modules.cache`: the app's cache.json tables (`sdwebui.services.shared_items`)."""
from modules._facade import expose

expose(__name__, extra=[
       ('cache', 'sdwebui.services.shared_items'),
       ('dump_cache', 'sdwebui.services.shared_items'),
       ('cached_data_for_file', 'sdwebui.services.shared_items')])
