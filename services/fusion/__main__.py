from emopulse.runtime.service import main
from services.fusion.service import build

main("fusion", build)
