"""A1111's `modules.shared_init`: the app builds `shared` at launch (`sdwebui.services.runtime`)."""
from modules._facade import expose

expose(__name__, extra=[
       ('initialize', 'sdwebui.services.legacy.system')])
