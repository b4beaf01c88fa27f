"""A1111's hypernetwork training tab: training is not part of this backend."""
from modules._facade import expose

expose(__name__, extra=[
       ('create_hypernetwork', 'sdwebui.services.legacy.hypernetworks'),
       ('train_hypernetwork', 'sdwebui.services.legacy.hypernetworks')])
