# Run in the plots directory: gnuplot data/plots.gp
set terminal pngcairo noenhanced size 900,560 font 'sans,10'
set output 'throughput-A.png'
set title 'Cross-process throughput, placement A (canary 120 ns - 200 ns) (median of its runs)'
unset yrange
set logscale xy
set xlabel 'message size (bytes)'
set ylabel 'bytes/s'
set key outside right
set grid
set xtics ('64 B' 64, '1 KiB' 1024, '64 KiB' 65536, '1 MiB' 1048576)
plot 'data/throughput_A_boost_message_queue.dat' using 1:2 with linespoints title 'boost_message_queue', 'data/throughput_A_iceoryx.dat' using 1:2 with linespoints title 'iceoryx', 'data/throughput_A_memcpy_1core.dat' using 1:2 with linespoints title 'memcpy_1core', 'data/throughput_A_pipe_ndjson.dat' using 1:2 with linespoints title 'pipe_ndjson', 'data/throughput_A_raw_shm_handoff.dat' using 1:2 with linespoints title 'raw_shm_handoff', 'data/throughput_A_shmpipe.dat' using 1:2 with linespoints title 'shmpipe', 'data/throughput_A_unix_socket.dat' using 1:2 with linespoints title 'unix_socket', 'data/throughput_A_zeromq_ipc.dat' using 1:2 with linespoints title 'zeromq_ipc'
set output 'throughput-B.png'
set title 'Cross-process throughput, placement B (canary 361 ns - 481 ns) (median of its runs)'
unset yrange
set logscale xy
set xlabel 'message size (bytes)'
set ylabel 'bytes/s'
set key outside right
set grid
set xtics ('64 B' 64, '1 KiB' 1024, '64 KiB' 65536, '1 MiB' 1048576)
plot 'data/throughput_B_boost_lockfree_spsc_shm.dat' using 1:2 with linespoints title 'boost_lockfree_spsc_shm', 'data/throughput_B_boost_lockfree_spsc_shm__batched_.dat' using 1:2 with linespoints title 'boost_lockfree_spsc_shm (batched)', 'data/throughput_B_boost_message_queue.dat' using 1:2 with linespoints title 'boost_message_queue', 'data/throughput_B_iceoryx.dat' using 1:2 with linespoints title 'iceoryx', 'data/throughput_B_memcpy_1core.dat' using 1:2 with linespoints title 'memcpy_1core', 'data/throughput_B_pipe_ndjson.dat' using 1:2 with linespoints title 'pipe_ndjson', 'data/throughput_B_pipe_ndjson__batched_.dat' using 1:2 with linespoints title 'pipe_ndjson (batched)', 'data/throughput_B_raw_shm_handoff.dat' using 1:2 with linespoints title 'raw_shm_handoff', 'data/throughput_B_shmpipe.dat' using 1:2 with linespoints title 'shmpipe', 'data/throughput_B_shmpipe__batched_.dat' using 1:2 with linespoints title 'shmpipe (batched)', 'data/throughput_B_unix_socket.dat' using 1:2 with linespoints title 'unix_socket', 'data/throughput_B_unix_socket__batched_.dat' using 1:2 with linespoints title 'unix_socket (batched)', 'data/throughput_B_zeromq_ipc.dat' using 1:2 with linespoints title 'zeromq_ipc'
set output 'rtt-B.png'
set title '64 B round trip, placement B (canary 361 ns - 481 ns): distribution (last run)'
unset logscale
set logscale x
set xlabel 'round trip (ns)'
set ylabel 'fraction'
set xtics auto
set yrange [0:1]
plot 'data/rtt_B_shmpipe_rtt_spin.dat' using 1:2 with lines title 'shmpipe rtt_spin', 'data/rtt_B_iceoryx_rtt_spin.dat' using 1:2 with lines title 'iceoryx rtt_spin', 'data/rtt_B_boost_lockfree_spsc_shm_rtt_spin.dat' using 1:2 with lines title 'boost_lockfree_spsc_shm rtt_spin', 'data/rtt_B_shmpipe_rtt_sleep.dat' using 1:2 with lines title 'shmpipe rtt_sleep', 'data/rtt_B_shmpipe_rtt_default.dat' using 1:2 with lines title 'shmpipe rtt_default', 'data/rtt_B_boost_message_queue_rtt_sleep.dat' using 1:2 with lines title 'boost_message_queue rtt_sleep', 'data/rtt_B_unix_socket_rtt_sleep.dat' using 1:2 with lines title 'unix_socket rtt_sleep', 'data/rtt_B_zeromq_ipc_rtt_sleep.dat' using 1:2 with lines title 'zeromq_ipc rtt_sleep', 'data/rtt_B_pipe_ndjson_rtt_sleep.dat' using 1:2 with lines title 'pipe_ndjson rtt_sleep'
