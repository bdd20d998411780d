from emopulse.runtime.service import main
from services.pulse.service import build

main("pulse", build)
