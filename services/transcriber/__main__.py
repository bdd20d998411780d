from emopulse.runtime.service import main
from services.transcriber.service import build

main("transcriber", build)
