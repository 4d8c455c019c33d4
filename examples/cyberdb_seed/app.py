"""Seed step 3: a Flask app reading the table through a proxy per request (CyberDB 0.9.3 code, unchanged).

Run: gunicorn -w 4 -k gevent -b 127.0.0.1:8000 app:app
"""

import cyberdb
from flask import Flask, g

app = Flask(__name__)
client = cyberdb.connect(host='127.0.0.1', port=9980, password='hWjYvVdqRC', encrypt=True, time_out=900)


@app.get('/')
def hello_world():
    centre = g.proxy.get_cyberdict('centre')
    return {'code': 1, 'content': centre['content']}


@app.before_request
def before_request():
    g.proxy = client.get_proxy()
    g.proxy.connect()


@app.teardown_request
def teardown_request(error):
    g.proxy.close()


if __name__ == '__main__':
    app.run(host='127.0.0.1', port=8000)
