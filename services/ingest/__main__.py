from emopulse.runtime.service import main
from services.ingest.service import build

main("ingest", build)
