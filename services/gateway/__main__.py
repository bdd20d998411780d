from emopulse.runtime.service import main
from services.gateway.service import build

main("gateway", build)
