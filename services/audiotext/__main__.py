from emopulse.runtime.service import main
from services.audiotext.service import build

main("audiotext", build)
