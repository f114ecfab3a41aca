import sys

from bot.stock.cli import main

sys.exit(main())
