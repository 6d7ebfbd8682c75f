import t from 'tap';
import { busyCores } from '../../src/scan/parallel-links.js';
import { parseForks, parseKernelNumber, parseLoadavgRunning, parseLoadavgTasks, reuseBound, RESERVED_PIDS, type PidAllocState } from '../../src/procfs/pid-alloc.js';

t.test('counter parsers on the kernel texts', async (t) => {
  t.equal(parseKernelNumber('24043\n'), 24043);
  t.equal(parseKernelNumber('4194304\n'), 4194304);
  t.equal(parseKernelNumber(''), null);
  t.equal(parseKernelNumber('-1\n'), null);
  t.equal(parseKernelNumber('12 34\n'), null);
  const stat = 'cpu  10 0 20 30 0 0 0 0 0 0\ncpu0 5 0 10 15 0 0 0 0 0 0\nintr 123 0 0 5\nctxt 999\nbtime 1700000000\nprocesses 24045\nprocs_running 3\nprocs_blocked 0\n';
  t.equal(parseForks(stat), 24045);
  t.equal(parseForks('processes 7\n'), 7);
  t.equal(parseForks('processes 7'), 7);
  t.equal(parseForks('cpu 1\nprocs_running 3\n'), null, 'no processes line');
  t.equal(parseForks('xprocesses 5\n'), null, 'only a whole line counts');
  t.equal(parseForks('processes x\n'), null);
  t.equal(parseLoadavgTasks('8.67 9.19 6.27 7/5246 24046\n'), 5246);
  t.equal(parseLoadavgTasks('0.00 0.01 0.05 1/123\n'), null, 'four fields');
  t.equal(parseLoadavgTasks('0.00 0.01 0.05 1-123 4\n'), null);
  t.equal(parseLoadavgRunning('8.67 9.19 6.27 7/5246 24046\n'), 7);
  t.equal(parseLoadavgRunning('0.00 0.01 0.05 1/123\n'), null, 'four fields');
  t.equal(parseLoadavgRunning('0.00 0.01 0.05 x/123 4\n'), null);
});

t.test('busyCores: the smaller of the load average and the tasks runnable now besides the reader', async (t) => {
  t.equal(busyCores('2.10 1.00 0.50 1/300 77\n', 2.1), 0, 'a burst a minute ago, only the reader runs now');
  t.equal(busyCores('0.20 0.10 0.05 5/300 77\n', 0.2), 0.2, 'a momentary crowd, idle over the minute');
  t.equal(busyCores('2.00 2.00 2.00 3/300 77\n', 2), 2, 'two hogs: both say two cores busy');
  t.equal(busyCores(null, 1.5), 1.5, 'no loadavg text: the load average');
  t.equal(busyCores('garbage', 1.5), 1.5, 'garbage: the load average');
});

const at = (lastPid: number, forks: number, tasks = 500, pidMax = 32768): PidAllocState => ({ lastPid, pidMax, forks, tasks });

t.test('reuseBound: safe only when the allocator cannot have come round', async (t) => {
  t.same(reuseBound(at(1000, 5000), at(1040, 5040)), { safe: true, from: 1000, to: 1040 });
  t.same(reuseBound(at(1000, 5000), at(1000, 5000)), { safe: true, from: 1000, to: 1000 }, 'nothing happened');
  t.match(reuseBound(null, at(1, 1)), { safe: false });
  t.match(reuseBound(at(1, 1), null), { safe: false });
  t.match(reuseBound(at(1000, 5000), at(900, 5100)), { safe: false, why: /wrapped/ }, 'last pid went back');
  t.match(reuseBound(at(1000, 5000), at(1100, 4000)), { safe: false, why: /fork counter/ });
  t.match(reuseBound(at(1000, 5000, 500, 32768), at(1100, 5100, 500, 65536)), { safe: false, why: /pid_max/ });
  // Came all the way round and back above the old value: as many forks as the cycle minus the tasks alive.
  const cycle = 32768 - RESERVED_PIDS;
  t.match(reuseBound(at(1000, 0, 500), at(1200, cycle)), { safe: false, why: /too many forks/ });
  t.match(reuseBound(at(1000, 0, cycle - 10), at(1001, 1)), { safe: false }, 'a nearly full pid space: one fork could wrap');
  t.match(reuseBound(at(1000, 0, 500), at(1200, 20000)), { safe: true }, 'fewer forks than free pids');
});
