from emopulse.runtime.service import main
from services.vision.service import build

main("vision", build)
