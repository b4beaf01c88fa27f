"""The launch flags sd-webui-controlnet adds, so `webui-user.sh` lines written for it keep working."""


def preload(parser):
    parser.add_argument("--controlnet-dir", type=str, default=None,
                        help="another folder of ControlNet model files, scanned after models/ControlNet")
    parser.add_argument("--controlnet-annotator-models-path", type=str, default=None,
                        help="folder of the preprocessors' weight files (default: "
                             "extensions/sd-webui-controlnet/annotator/downloads)")
    parser.add_argument("--no-half-controlnet", action="store_true", default=None,
                        help="run ControlNet models in 32-bit floats even when the checkpoint runs in 16-bit")
    parser.add_argument("--controlnet-preprocessor-cache-size", type=int, default=16,
                        help="how many preprocessor results to keep (accepted; results are not cached here)")
    parser.add_argument("--controlnet-loglevel", default="INFO", choices=["DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"],
                        help="log level of the ControlNet messages")
    parser.add_argument("--controlnet-tracemalloc", action="store_true",
                        help="accepted for sd-webui-controlnet's launch lines; does nothing here")
