// Package shards runs the gateway shards of one gavel process and decides how many there
// are: one connection per shard (package gateway), all feeding the same disgo client.
//
// Which shards a process runs is a Provider's decision: Static for an explicit list
// (discord.shards = "0-15"), or a provider that divides the shards between processes over
// the database (discord.shards = "auto"). The Manager runs whatever its provider grants,
// identifies within Discord's identify limit (one IDENTIFY per max_concurrency bucket per
// 5 seconds, across every process: see Limiter), and restarts every shard with a new count
// when Discord asks for more shards and the count is "auto".
package shards
