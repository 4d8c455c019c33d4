"""Seed step 2: serve data.cdb over an encrypted connection, backed up every 300 s (CyberDB 0.9.3 code, unchanged)."""

import cyberdb

db = cyberdb.Server()
db.load_db('data.cdb')
db.set_backup('data.cdb', cycle=300)
db.run(host='127.0.0.1', port=9980, password='hWjYvVdqRC', max_con=10000, encrypt=True, print_log=False)
