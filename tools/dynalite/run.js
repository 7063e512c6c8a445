// Starts dynalite on a loopback address (its own command listens on every interface), for
// olapgate's tests: internal/dynalitetest runs it.
//
// Usage: node run.js [--port N] [--host H] [--createTableMs N] [--deleteTableMs N]
//                    [--updateTableMs N]
// --port 0 (the default) takes a free port. Tables are kept in memory. Prints
// "Listening at http://<host>:<port>" once it accepts connections, and exits when its standard
// input closes, so a test that dies takes the server with it.
'use strict'
var opts = {port: 0, host: '127.0.0.1'}
var args = process.argv.slice(2)
for (var i = 0; i < args.length; i += 2) {
  var m = /^--(\w+)$/.exec(args[i])
  if (!m || i + 1 >= args.length) {
    console.error('run.js: bad argument %s', args[i])
    process.exit(2)
  }
  opts[m[1]] = m[1] == 'host' ? args[i + 1] : Number(args[i + 1])
}
// A client that goes away mid-request (a worker cancelling a call as it stops, or killed by a
// test) must not end the server.
process.on('uncaughtException', function(err) {
  if (err && (err.code == 'ECONNRESET' || err.code == 'EPIPE' || err.message == 'aborted')) return
  console.error(err && err.stack || err)
  process.exit(1)
})
var server = require('dynalite')(opts).listen(opts.port, opts.host, function() {
  var a = server.address()
  console.log('Listening at http://%s:%d', a.address, a.port)
})
process.stdin.on('end', function() { process.exit(0) })
process.stdin.resume()
