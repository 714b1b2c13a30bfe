set terminal pngcairo noenhanced size 900,560 font 'sans,10'
set output 'docs/bench/throughput.png'
set title 'Cross-process throughput (every byte written and read)'
set logscale xy
set xlabel 'message size (bytes)'
set ylabel 'bytes/s'
set key outside right
set grid
set xtics ('64 B' 64, '1 KiB' 1024, '64 KiB' 65536, '1 MiB' 1048576)
plot 'docs/bench/data/throughput_boost_lockfree_spsc_shm.dat' using 1:2 with linespoints title 'boost_lockfree_spsc_shm', 'docs/bench/data/throughput_boost_message_queue.dat' using 1:2 with linespoints title 'boost_message_queue', 'docs/bench/data/throughput_iceoryx.dat' using 1:2 with linespoints title 'iceoryx', 'docs/bench/data/throughput_memcpy_1core.dat' using 1:2 with linespoints title 'memcpy_1core', 'docs/bench/data/throughput_pipe_ndjson.dat' using 1:2 with linespoints title 'pipe_ndjson', 'docs/bench/data/throughput_raw_shm_handoff.dat' using 1:2 with linespoints title 'raw_shm_handoff', 'docs/bench/data/throughput_shmpipe.dat' using 1:2 with linespoints title 'shmpipe', 'docs/bench/data/throughput_unix_socket.dat' using 1:2 with linespoints title 'unix_socket', 'docs/bench/data/throughput_zeromq_ipc.dat' using 1:2 with linespoints title 'zeromq_ipc'
set output 'docs/bench/rtt.png'
set title '64 B round trip between two processes: distribution (last run)'
unset logscale
set logscale x
set xlabel 'round trip (ns)'
set ylabel 'fraction'
set xtics auto
set yrange [0:1]
plot 'docs/bench/data/rtt_atomic_pingpong_rtt_spin_64.dat' using 1:2 with lines title 'atomic_pingpong/rtt_spin', 'docs/bench/data/rtt_boost_lockfree_spsc_shm_rtt_spin_64.dat' using 1:2 with lines title 'boost_lockfree_spsc_shm/rtt_spin', 'docs/bench/data/rtt_boost_message_queue_rtt_blocking_64.dat' using 1:2 with lines title 'boost_message_queue/rtt_blocking', 'docs/bench/data/rtt_iceoryx_rtt_spin_64.dat' using 1:2 with lines title 'iceoryx/rtt_spin', 'docs/bench/data/rtt_pipe_ndjson_rtt_blocking_64.dat' using 1:2 with lines title 'pipe_ndjson/rtt_blocking', 'docs/bench/data/rtt_shmpipe_rtt_blocking_64.dat' using 1:2 with lines title 'shmpipe/rtt_blocking', 'docs/bench/data/rtt_shmpipe_rtt_spin_64.dat' using 1:2 with lines title 'shmpipe/rtt_spin', 'docs/bench/data/rtt_shmpipe_futex_only_rtt_blocking_64.dat' using 1:2 with lines title 'shmpipe_futex_only/rtt_blocking', 'docs/bench/data/rtt_unix_socket_rtt_blocking_64.dat' using 1:2 with lines title 'unix_socket/rtt_blocking', 'docs/bench/data/rtt_zeromq_ipc_rtt_blocking_64.dat' using 1:2 with lines title 'zeromq_ipc/rtt_blocking'
