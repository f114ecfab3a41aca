"""The stock command line: `python -m bot.stock load PRODUCT_ID FILE` loads a stock
product's units from a file, one per line, with the code the admin panel uses."""
