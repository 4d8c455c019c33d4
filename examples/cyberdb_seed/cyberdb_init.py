"""Seed step 1: start a server, create the 'centre' table, save it to data.cdb (CyberDB 0.9.3 code, unchanged)."""

import cyberdb

db = cyberdb.Server()
db.start(host='127.0.0.1', port=9980, password='hWjYvVdqRC')

client = cyberdb.connect(host='127.0.0.1', port=9980, password='hWjYvVdqRC')
with client.get_proxy() as proxy:
    proxy.create_cyberdict('centre')
    centre = proxy.get_cyberdict('centre')
    centre['content'] = 'Hello CyberDB!'

db.save_db('data.cdb')
