#!/usr/bin/perl
# forker.pl  A pre-forking service in miniature, with exactly known reads.
#
# Usage: perl forker.pl FILE CHILDREN READS
# Prints "ready PID", waits for a line on stdin, then forks CHILDREN
# processes one after the other; each makes exactly READS read(2) calls of
# 4096 bytes on FILE (sysread is one read(2) each) and leaves with _exit (no
# destructors, no stdio flush). The parent waits for each child, prints
# "done CHILD-PIDS", and then waits for stdin to close. The parent's own reads
# are those of its stdin lines: a few calls, a few bytes.
use strict;
use warnings;
use POSIX ();

my ($file, $children, $reads) = @ARGV;
die "usage: forker.pl FILE CHILDREN READS\n" unless defined $reads;
$| = 1;
print "ready $$\n";
my $go = <STDIN>;
# FORKER_RENAME=NAME: take that name first (perl's $0 is prctl PR_SET_NAME on
# Linux), and give a tracer that follows renames half a second to see it.
if (defined $ENV{FORKER_RENAME}) {
  $0 = $ENV{FORKER_RENAME};
  select(undef, undef, undef, 0.5);
}
my @pids;
for my $c (1 .. $children) {
  my $pid = fork();
  die "fork: $!\n" unless defined $pid;
  if ($pid == 0) {
    open(my $fh, "<", $file) or POSIX::_exit(3);
    my $buf;
    for my $i (1 .. $reads) {
      sysseek($fh, 0, 0) if $i % 64 == 1;
      my $n = sysread($fh, $buf, 4096);
      POSIX::_exit(4) unless defined $n && $n == 4096;
    }
    POSIX::_exit(0);
  }
  push @pids, $pid;
  waitpid($pid, 0);
  die "child $pid failed: $?\n" if $? != 0;
}
print "done @pids\n";
while (<STDIN>) { }
