"""A1111's `modules.initialize`: the app initializes itself at launch (`sdwebui.services.legacy.system`)."""
from modules._facade import expose

expose(__name__, extra=[
       ('imports', 'sdwebui.services.legacy.system'),
       ('check_versions', 'sdwebui.services.legacy.system'),
       ('initialize', 'sdwebui.services.legacy.system'),
       ('initialize_rest', 'sdwebui.services.legacy.system')])
