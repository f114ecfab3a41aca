"""shopbot: a Telegram shop for digital goods whose database migrates itself at start-up."""
