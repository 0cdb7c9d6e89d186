# What `gitlab-rake TASK` does for the tasks the stand-in knows, including how rake reports an exception
# (rake's Rake::Application#display_error_message): "rake aborted!", the message (a RuntimeError's message alone,
# any other exception as "Class: message"), the backtrace, the task chain and a hint, all on stderr; exit 1.
task = ARGV.first.to_s
name = task.sub(/\[.*\]\z/, '')
begin
  unless name == 'gitlab:duo:verify_self_hosted_setup'
    raise "Don't know how to build task '#{name}' (See the list of available tasks with `rake --tasks`)"
  end

  load File.join(__dir__, 'verify_self_hosted_setup.rb')
rescue StandardError => e
  $stdout.flush
  warn 'rake aborted!'
  warn(e.instance_of?(RuntimeError) ? e.message : "#{e.class.name}: #{e.message}")
  (e.backtrace || []).first(3).each { |line| warn line.sub(__dir__, '/opt/gitlab/embedded/service/gitlab-rails/ee/lib/gitlab/duo/administration') }
  warn "Tasks: TOP => #{name}"
  warn '(See full trace by running task with --trace)'
  exit 1
end
