#!/usr/bin/env python3
"""Before/after comparison of two Herald binaries on the same generated corpus.

Usage: OLD=path/to/old/herald NEW=path/to/new/herald [ARTICLES=10000] [ROUNDS=5] \\
       [REBUILDS=10] python3 bench/compare_builds.py

Each round gives each binary its own site, timed as `bench/run.py` times it: a full build
into an empty output folder (earlier outputs are moved aside, not deleted: see the README's
Benchmarks; the order of the two binaries alternates between rounds), then REBUILDS
rebuilds with nothing changed and REBUILDS rebuilds after adding one article each (dated
and named as `bench/run.py` adds them, so each enters the feeds), the two binaries taking
turns build by build. One untimed build after the full build settles its record first,
as a run of rebuilds would. It prints medians and, per round, new/old of the two medians:
this machine's speed drifts between runs minutes apart, so only builds timed side by side
are compared. The work folder is left in place (its path is printed last): delete it when
nothing will be timed in the next five minutes.
"""
import os, sys, subprocess, time, shutil, statistics, tempfile
REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
OLD = os.environ['OLD']; NEW = os.environ['NEW']
N = int(os.environ.get('ARTICLES', '10000')); ROUNDS = int(os.environ.get('ROUNDS', '5'))
NOW="2026-01-26T01:00:00Z"
work=tempfile.mkdtemp(prefix='ab-')
subprocess.run([sys.executable, f'{REPO}/bench/gen_corpus.py', f'{work}/corpus', str(N)], check=True, stdout=subprocess.DEVNULL)
def measure(binary, site, *args):
    env=dict(os.environ, HERALD_NOW=NOW, HERALD_SECRET='benchmark-secret-0123456789')
    t=time.perf_counter()
    p=subprocess.Popen([binary,'--config',f'{site}/config.toml',*args],env=env,stdout=subprocess.DEVNULL,stderr=subprocess.PIPE)
    _,status,usage=os.wait4(p.pid,0)
    el=time.perf_counter()-t
    err=p.stderr.read().decode(); 
    if os.waitstatus_to_exitcode(status)!=0: sys.exit(err)
    return el, usage.ru_maxrss/1024
sites={}
for name in ('old','new'):
    site=f'{work}/{name}'; os.makedirs(site)
    shutil.copytree(f'{work}/corpus/seeds',f'{site}/seeds')
    shutil.copy(f'{REPO}/config.toml',f'{site}/config.toml')
    sites[name]=site
trash=f'{work}/trash'; os.makedirs(trash)
REBUILDS = int(os.environ.get('REBUILDS', '10'))
res={k:{'old':[], 'new':[]} for k in ('full','nochange','addone')}
rounds={k:[] for k in res}
first=sorted(os.listdir(f'{work}/corpus/seeds'))[0]
template=open(f'{work}/corpus/seeds/{first}',encoding='utf-8').read()
for r in range(ROUNDS):
    order=(('old',OLD),('new',NEW)) if r%2==0 else (('new',NEW),('old',OLD))
    timed={k:{'old':[], 'new':[]} for k in res}
    for name,binary in order:
        site=sites[name]
        for added in [f for f in os.listdir(f'{site}/seeds') if '_added' in f]:
            os.remove(f'{site}/seeds/{added}')
        for d in ('public','state'):
            if os.path.exists(f'{site}/{d}'): os.rename(f'{site}/{d}', f'{trash}/{name}{r}{d}')
        subprocess.run(['sync'])
        timed['full'][name].append(measure(binary, site, 'build'))
    for name,binary in order:
        measure(binary, sites[name], 'build')
    for _ in range(REBUILDS):
        for name,binary in order:
            timed['nochange'][name].append(measure(binary, sites[name], 'build'))
    for i in range(REBUILDS):
        day='2026-01-2%d'%(i+1) if i<5 else '2026-01-26'
        text=template.replace(template.split()[1], day, 1)
        for name,binary in order:
            with open(f'{sites[name]}/seeds/99{i:03d}_added{i}.txt','w',encoding='utf-8') as f:
                f.write(text)
            timed['addone'][name].append(measure(binary, sites[name], 'build'))
    for k,v in timed.items():
        for name in ('old','new'):
            res[k][name].extend(v[name])
        medians={name: statistics.median(t for t,_ in v[name]) for name in ('old','new')}
        rounds[k].append(medians['new']/medians['old'])
for k,v in res.items():
    o=[t for t,_ in v['old']]; n=[t for t,_ in v['new']]
    ratios=rounds[k]
    print(f"{k}: old median {statistics.median(o):.3f}s (peak {max(m for _,m in v['old']):.0f} MB), new median {statistics.median(n):.3f}s (peak {max(m for _,m in v['new']):.0f} MB), new/old per round median {statistics.median(ratios):.3f} rounds {[round(x,2) for x in ratios]}")
# Not deleted here: deleting its 40,000 files would slow the file creation of whatever
# is timed next for minutes (see the README's Benchmarks), a second comparison included.
print(f"work folder left at {work}: delete it when nothing is timed for the next five minutes")
