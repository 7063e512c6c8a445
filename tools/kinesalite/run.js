// Starts kinesalite on a loopback address (its own command listens on every interface), for
// olapgate's tests: internal/kinesalitetest runs it.
//
// Usage: node run.js [--port N] [--host H] [--createStreamMs N] [--deleteStreamMs N]
//                    [--updateStreamMs N] [--shardLimit N]
// --port 0 (the default) takes a free port. Prints "Listening at http://<host>:<port>" once it
// accepts connections, and exits when its standard input closes, so a test that dies takes
// the server with it.
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
// kinesalite rethrows the error of a request whose client went away mid-request (a consumer
// that cancels a call when it stops), which would end the server: such errors are harmless.
process.on('uncaughtException', function(err) {
  if (err && (err.code == 'ECONNRESET' || err.message == 'aborted')) return
  console.error(err && err.stack || err)
  process.exit(1)
})
var server = require('kinesalite')(opts).listen(opts.port, opts.host, function() {
  var a = server.address()
  console.log('Listening at http://%s:%d', a.address, a.port)
})
process.stdin.on('end', function() { process.exit(0) })
process.stdin.resume()
