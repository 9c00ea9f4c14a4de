#!/bin/bash
# Prepares a server for macsec-dataplane: hugepages, NIC binding to vfio-pci, and CPU isolation
# advice. Run as root; idempotent.
#
#   deploy/host-setup.sh --hugepages-gb 4 --bind 0000:3b:00.0 --bind 0000:3b:00.1
set -euo pipefail
GB=2; BIND=()
while [ $# -gt 0 ]; do
    case "$1" in
        --hugepages-gb) GB=$2; shift 2;;
        --bind) BIND+=("$2"); shift 2;;
        -h|--help) sed -n 2,6p "$0"; exit 0;;
        *) echo "host-setup: $1: unknown argument (see --help)" >&2; exit 2;;
    esac
done
[ "$(id -u)" -eq 0 ] || { echo "host-setup: run as root" >&2; exit 1; }

# 1 GiB pages when the CPU has them, else 2 MiB pages.
if grep -q pdpe1gb /proc/cpuinfo && [ -d /sys/kernel/mm/hugepages/hugepages-1048576kB ]; then
    echo "$GB" > /sys/kernel/mm/hugepages/hugepages-1048576kB/nr_hugepages
    echo "host-setup: $(cat /sys/kernel/mm/hugepages/hugepages-1048576kB/nr_hugepages) x 1 GiB hugepages"
else
    echo $(( GB * 512 )) > /sys/kernel/mm/hugepages/hugepages-2048kB/nr_hugepages
    echo "host-setup: $(cat /sys/kernel/mm/hugepages/hugepages-2048kB/nr_hugepages) x 2 MiB hugepages"
fi
mkdir -p /dev/hugepages
mountpoint -q /dev/hugepages || mount -t hugetlbfs nodev /dev/hugepages

if [ ${#BIND[@]} -gt 0 ]; then
    modprobe vfio-pci
    for dev in "${BIND[@]}"; do
        dpdk-devbind.py --bind=vfio-pci "$dev"
    done
    dpdk-devbind.py --status-dev net
fi

install -d -m 0700 /etc/macsec /var/lib/macsec /run/macsec
# The key store's master key (seals the CAKs at rest): made once, never overwritten.
if [ ! -s /etc/macsec/master.key ]; then
    (umask 077; od -An -tx1 -N32 /dev/urandom | tr -d ' \n' > /etc/macsec/master.key)
    echo "host-setup: created /etc/macsec/master.key (0600); back it up with the key store"
fi
cat <<'ADVICE'
host-setup: CPU isolation (not changed by this script; needs a reboot):
  - put the worker CPUs of eal.lcores on the kernel command line:
      isolcpus=3-10 nohz_full=3-10 rcu_nocbs=3-10 intel_iommu=on iommu=pt
    and keep them on the NIC's NUMA node (cat /sys/bus/pci/devices/<BDF>/numa_node);
  - disable irqbalance for those CPUs, set the CPU governor to performance;
  - the service lcore (first in eal.lcores) may share a housekeeping CPU.
ADVICE
