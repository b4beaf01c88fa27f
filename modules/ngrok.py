"""A1111's `modules.ngrok`: ngrok tunnels are not part of this backend."""
from modules._facade import expose

expose(__name__, extra=[
       ('connect', 'sdwebui.services.legacy.stubs')])
