set terminal pngcairo size 1200,900 font 'sans,10'
set output "/work/main/docs/benchmarks/density.png"
set grid
set key outside right top
set multiplot layout 2,1
set title 'Main phase: host memory used by the fleet (MemTotal - MemAvailable, minus before the boot)'
set xlabel 's since the boot'
set ylabel 'MiB'
plot "/work/main/docs/benchmarks/density-data/plot.dat" index 0 using 1:2 with lines lw 2 title "(a) unmanaged, free page reporting off (libvirt's default)", "/work/main/docs/benchmarks/density-data/plot.dat" index 2 using 1:2 with lines lw 2 title "(b) unmanaged, free page reporting on", "/work/main/docs/benchmarks/density-data/plot.dat" index 4 using 1:2 with lines lw 2 title "(c) KSM at kernel defaults (100 pages / 20 ms)", "/work/main/docs/benchmarks/density-data/plot.dat" index 6 using 1:2 with lines lw 2 title "(d) KSM by the ksmtuned / MOM formula", "/work/main/docs/benchmarks/density-data/plot.dat" index 8 using 1:2 with lines lw 2 title "(e) ballast (ballastd, default config)"
set title 'Packing: host memory used while guests are added (minus before the first)'
set xlabel 's since the first guest'
plot "/work/main/docs/benchmarks/density-data/plot.dat" index 1 using 1:2 with lines lw 2 title "(a) unmanaged, free page reporting off (libvirt's default)", "/work/main/docs/benchmarks/density-data/plot.dat" index 3 using 1:2 with lines lw 2 title "(b) unmanaged, free page reporting on", "/work/main/docs/benchmarks/density-data/plot.dat" index 5 using 1:2 with lines lw 2 title "(c) KSM at kernel defaults (100 pages / 20 ms)", "/work/main/docs/benchmarks/density-data/plot.dat" index 7 using 1:2 with lines lw 2 title "(d) KSM by the ksmtuned / MOM formula", "/work/main/docs/benchmarks/density-data/plot.dat" index 9 using 1:2 with lines lw 2 title "(e) ballast (ballastd, default config)", 2048 with lines dt 2 lc rgb 'black' title 'budget'
unset multiplot
