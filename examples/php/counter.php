<?php
// A PHP page under "SessionRequire On" (mod_php, php-fpm or php-cgi):
// the session arrives in the environment (in a file when it is larger
// than RemoteSessionEnvMax), changes go back in a header.
$file = getenv('REMOTE_SESSION_FILE');
$session = json_decode($file ? file_get_contents($file)
                             : (getenv('REMOTE_SESSION') ?: '{}'), true);
$visits = ($session['visits'] ?? 0) + 1;

header('Content-Type: text/plain; charset=utf-8');
header('X-Remote-Session-Update: ' . json_encode(['set' => ['visits' => $visits]]));

echo 'session ', getenv('REMOTE_SESSION_ID'), ": visit $visits\n";
