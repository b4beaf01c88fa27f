"""A1111's `modules.face_restoration_utils`: no face restoration model ships with this backend; an extension may add one to
`shared.face_restorers` (see `modules.face_restoration`)."""
from modules._facade import expose

expose(__name__, extra=[
       ('CommonFaceRestoration', 'sdwebui.services.legacy.stubs')])
