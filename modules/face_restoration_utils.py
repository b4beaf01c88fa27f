"""A1111's `modules.face_restoration_utils`: the base class of the file-backed face restorers
(`sdwebui.services.face_restorers`); faces are found and pasted back by `sdwebui.engine.faces`."""
from modules._facade import expose

expose(__name__, extra=[
       ('CommonFaceRestoration', 'sdwebui.services.face_restorers')])
