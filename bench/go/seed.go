// The seed's own Go code (shared/seed/healing-goroutines.md), measured as a peer of steward:
// its steward + doWorkFn ward through bridge/take (values per second), and the resident
// memory of 10,000 steward/ward pairs. Prints one JSON object.
package main

import (
	"encoding/json"
	"os"
	"runtime"
	"strconv"
	"strings"
	"time"
)

type startGoroutineFn func(done <-chan interface{}, pulseInterval time.Duration) (heartbeat <-chan interface{})

func steward(timeout time.Duration, startGoroutine startGoroutineFn) startGoroutineFn {
	return func(done <-chan interface{}, pulseInterval time.Duration) <-chan interface{} {
		heartbeat := make(chan interface{})
		go func() {
			defer close(heartbeat)
			wardDone, wardHeartbeat := startWard(done, startGoroutine, timeout)
			pulse := time.Tick(pulseInterval)
		monitorLoop:
			for {
				timeoutSignal := time.After(timeout)
				for {
					select {
					case <-pulse:
						sendPulse(heartbeat)
					case <-wardHeartbeat:
						continue monitorLoop
					case <-timeoutSignal:
						close(wardDone)
						wardDone, wardHeartbeat = startWard(done, startGoroutine, timeout)
						continue monitorLoop
					case <-done:
						return
					}
				}
			}
		}()
		return heartbeat
	}
}

func startWard(done <-chan interface{}, startGoroutine startGoroutineFn, timeout time.Duration) (chan interface{}, <-chan interface{}) {
	wardDone := make(chan interface{})
	wardHeartbeat := startGoroutine(or(wardDone, done), timeout/2)
	return wardDone, wardHeartbeat
}

func or(channels ...<-chan interface{}) <-chan interface{} {
	switch len(channels) {
	case 0:
		return nil
	case 1:
		return channels[0]
	}
	orDone := make(chan interface{})
	go func() {
		defer close(orDone)
		switch len(channels) {
		case 2:
			select {
			case <-channels[0]:
			case <-channels[1]:
			}
		default:
			select {
			case <-channels[0]:
			case <-channels[1]:
			case <-channels[2]:
			case <-or(append(channels[3:], orDone)...):
			}
		}
	}()
	return orDone
}

func sendPulse(heartbeat chan interface{}) {
	select {
	case heartbeat <- struct{}{}:
	default:
	}
}

func doWorkFn(done <-chan interface{}, intList ...int) (startGoroutineFn, <-chan interface{}) {
	intChanStream := make(chan (<-chan interface{}))
	resultIntStream := bridge(done, intChanStream)
	doWork := func(done <-chan interface{}, pulseInterval time.Duration) <-chan interface{} {
		intStream := make(chan interface{})
		heartbeat := make(chan interface{})
		go func() {
			defer close(intStream)
			select {
			case intChanStream <- intStream:
			case <-done:
				return
			}
			pulse := time.Tick(pulseInterval)
			for {
			valueLoop:
				for _, intVal := range intList {
					for {
						select {
						case <-pulse:
							sendPulse(heartbeat)
						case intStream <- intVal:
							continue valueLoop
						case <-done:
							return
						}
					}
				}
			}
		}()
		return heartbeat
	}
	return doWork, resultIntStream
}

func bridge(done <-chan interface{}, chanStream <-chan <-chan interface{}) <-chan interface{} {
	valueStream := make(chan interface{})
	go func() {
		defer close(valueStream)
		for {
			var stream <-chan interface{}
			select {
			case maybeStream, ok := <-chanStream:
				if !ok {
					return
				}
				stream = maybeStream
			case <-done:
				return
			}
			for value := range orDone(done, stream) {
				select {
				case valueStream <- value:
				case <-done:
				}
			}
		}
	}()
	return valueStream
}

func orDone(done <-chan interface{}, c <-chan interface{}) <-chan interface{} {
	valueStream := make(chan interface{})
	go func() {
		defer close(valueStream)
		for {
			select {
			case <-done:
				return
			case v, ok := <-c:
				if !ok {
					return
				}
				select {
				case valueStream <- v:
				case <-done:
				}
			}
		}
	}()
	return valueStream
}

func take(done <-chan interface{}, valueStream <-chan interface{}, num int) <-chan interface{} {
	takeStream := make(chan interface{})
	go func() {
		defer close(takeStream)
		for i := 0; i < num; i++ {
			select {
			case <-done:
				return
			case takeStream <- <-valueStream:
			}
		}
	}()
	return takeStream
}

// A healthy ward for the pair measurement: it pulses until told to stop.
func healthyWard(done <-chan interface{}, pulseInterval time.Duration) <-chan interface{} {
	heartbeat := make(chan interface{})
	go func() {
		pulse := time.Tick(pulseInterval)
		for {
			select {
			case <-pulse:
				sendPulse(heartbeat)
			case <-done:
				return
			}
		}
	}()
	return heartbeat
}

func rssBytes() int {
	data, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return 0
	}
	for _, line := range strings.Split(string(data), "\n") {
		if strings.HasPrefix(line, "VmRSS:") {
			fields := strings.Fields(line)
			kb, _ := strconv.Atoi(fields[1])
			return kb * 1024
		}
	}
	return 0
}

func median(values []float64) float64 {
	for i := range values {
		for j := i + 1; j < len(values); j++ {
			if values[j] < values[i] {
				values[i], values[j] = values[j], values[i]
			}
		}
	}
	return values[len(values)/2]
}

func main() {
	list := make([]int, 1000)
	for i := range list {
		list[i] = i + 1
	}
	const values = 1_000_000
	var rates []float64
	for r := 0; r < 5; r++ {
		done := make(chan interface{})
		doWork, results := doWorkFn(done, list...)
		steward(time.Second, doWork)(done, time.Hour)
		start := time.Now()
		n := 0
		for range take(done, results, values) {
			n++
		}
		rates = append(rates, float64(n)/time.Since(start).Seconds())
		close(done)
	}

	runtime.GC()
	time.Sleep(200 * time.Millisecond)
	before := rssBytes()
	const pairs = 10_000
	done := make(chan interface{})
	for i := 0; i < pairs; i++ {
		steward(10*time.Second, healthyWard)(done, time.Hour)
	}
	time.Sleep(time.Second)
	runtime.GC()
	after := rssBytes()
	close(done)

	json.NewEncoder(os.Stdout).Encode(map[string]float64{
		"pipelineValuesPerSecond": median(rates),
		"pairBytes":               float64(after-before) / pairs,
	})
}
